"""Executes a notebook on a Jupyter kernel, cell by cell, and writes the executed copy.

Used by scripts/notebooks.ts (the notebook tests). Why not plain `nbconvert --execute`:
the Deno kernel (2.x) may publish a cell's outputs (console.log, Deno.jupyter displays)
on IOPub *after* it reports the cell idle, and nbclient drops such late messages, so
outputs went missing or landed in the next cell, more often the busier the machine.
Here, after each cell, a silent barrier cell (a short sleep) runs, and every output
that arrives until the barrier finishes belongs to the cell just run.

A message that arrives mangled ("Invalid Signature": seen in CI about once in a few
dozen notebook runs, under load, from the Deno kernel's pure-Rust ZeroMQ PUB socket; cf.
zeromq/zmq.rs#237) is counted in "transport_errors" and skipped, and a barrier whose idle
status was the mangled message ends once its reply is in and IOPub has been quiet for a
while. The caller decides what a run with transport errors is worth (the notebook test
reruns it once when its checks fail).

usage: run_notebook.py NOTEBOOK OUT KERNEL_NAME CELL_TIMEOUT_S BARRIER_MS
Prints one JSON line: {"ok", "cells", "failed_cell", "error", "transport_errors"};
exit status 0 when ok.
"""

import json
import os
import queue
import re
import sys
import time

import nbformat
from jupyter_client.manager import KernelManager
from nbformat.v4 import output_from_msg

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CellTimeout(Exception):
    pass


def run(nb_path, out_path, kernel_name, cell_timeout, barrier_ms):
    nb = nbformat.read(nb_path, as_version=4)
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(cwd=os.path.dirname(os.path.abspath(nb_path)))
    kc = km.client()
    kc.start_channels()
    result = {"ok": True, "cells": 0, "failed_cell": None, "error": None, "transport_errors": 0}
    displays = {}  # display_id -> list of output dicts to update in place
    try:
        kc.wait_for_ready(timeout=120)
        barrier = "await new Promise((resolve) => setTimeout(resolve, %d));" % barrier_ms
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            cell.execution_count = None
            if not cell.source.strip():
                continue
            result["cells"] += 1
            msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
            reply = wait_for_reply(kc, msg_id, cell, displays, cell_timeout, result)
            barrier_id = kc.execute(barrier, silent=False, store_history=False, allow_stdin=False)
            wait_for_reply(kc, barrier_id, cell, displays, cell_timeout, result, until_idle=True)
            content = reply["content"]
            cell.execution_count = content.get("execution_count")
            if content.get("status") != "ok":
                tb = "\n".join(content.get("traceback", []))
                result.update(
                    ok=False,
                    failed_cell=index,
                    error=ANSI.sub("", "%s: %s\n%s" % (content.get("ename"), content.get("evalue"), tb)),
                )
                break
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            if errors:
                e = errors[0]
                result.update(ok=False, failed_cell=index,
                              error=ANSI.sub("", "%s: %s" % (e.get("ename"), e.get("evalue"))))
                break
    except CellTimeout as e:
        result.update(ok=False, failed_cell=index, error=str(e))
        km.interrupt_kernel()
    finally:
        nbformat.write(nb, out_path)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return result


QUIET_AFTER_TRANSPORT_ERROR_S = 2.0

# Fault injection for the runner's own test: METALAB_NB_MANGLE_EVERY=k treats every k-th
# IOPub message as mangled, exactly as jupyter_client reports a bad signature.
MANGLE_EVERY = int(os.environ.get("METALAB_NB_MANGLE_EVERY", "0"))
_seen = [0]


def mangle_for_test(msg):
    if MANGLE_EVERY > 0:
        _seen[0] += 1
        if _seen[0] % MANGLE_EVERY == 0:
            raise ValueError("Invalid Signature: %r (injected by METALAB_NB_MANGLE_EVERY)"
                             % msg["header"].get("msg_type"))


def wait_for_reply(kc, msg_id, cell, displays, timeout, result, until_idle=False):
    """Collects IOPub outputs into `cell` until the reply to msg_id (and, with until_idle,
    the kernel's idle status for it) has arrived. After a mangled IOPub message the idle
    status may be the one lost: then the reply plus a quiet IOPub also ends the wait."""
    deadline = time.monotonic() + timeout
    reply = None
    idle = False
    errors_before = result["transport_errors"]
    last_iopub = time.monotonic()
    while reply is None or (until_idle and not idle):
        now = time.monotonic()
        if now > deadline:
            raise CellTimeout("cell timed out after %d s" % timeout)
        if (reply is not None and result["transport_errors"] > errors_before
                and now - last_iopub > QUIET_AFTER_TRANSPORT_ERROR_S):
            break
        drained = False
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=0.01)
                mangle_for_test(msg)
            except queue.Empty:
                break
            except ValueError as e:  # "Invalid Signature", a frame that is not JSON
                result["transport_errors"] += 1
                print("run_notebook: skipped a mangled IOPub message: %s" % str(e)[:120],
                      file=sys.stderr)
                last_iopub = time.monotonic()
                continue
            drained = True
            last_iopub = time.monotonic()
            if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                    and msg["parent_header"].get("msg_id") == msg_id):
                idle = True
            else:
                record(msg, cell, displays)
        if reply is None:
            try:
                candidate = kc.get_shell_msg(timeout=0 if drained else 0.05)
                if candidate["parent_header"].get("msg_id") == msg_id:
                    reply = candidate
            except queue.Empty:
                pass
            except ValueError as e:
                result["transport_errors"] += 1
                print("run_notebook: skipped a mangled shell message: %s" % str(e)[:120],
                      file=sys.stderr)
    return reply


def record(msg, cell, displays):
    kind = msg["msg_type"]
    content = msg["content"]
    if kind in ("status", "execute_input", "comm_open", "comm_msg", "comm_close"):
        return
    if kind == "clear_output":
        cell.outputs = []
        return
    if kind == "update_display_data":
        for out in displays.get(content.get("transient", {}).get("display_id"), []):
            out["data"] = content.get("data", {})
            out["metadata"] = content.get("metadata", {})
        return
    if kind not in ("stream", "display_data", "execute_result", "error"):
        return
    if kind == "stream" and cell.outputs and cell.outputs[-1].get("output_type") == "stream" \
            and cell.outputs[-1].get("name") == content.get("name"):
        cell.outputs[-1]["text"] += content.get("text", "")
        return
    out = output_from_msg(msg)
    display_id = content.get("transient", {}).get("display_id")
    if display_id:
        displays.setdefault(display_id, []).append(out)
    cell.outputs.append(out)


if __name__ == "__main__":
    nb_path, out_path, kernel_name, cell_timeout, barrier_ms = sys.argv[1:6]
    outcome = run(nb_path, out_path, kernel_name, float(cell_timeout), int(barrier_ms))
    print(json.dumps(outcome))
    sys.exit(0 if outcome["ok"] else 1)
