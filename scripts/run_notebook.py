"""Executes a notebook on a Jupyter kernel, cell by cell, and writes the executed copy.

Used by scripts/notebooks.ts (the notebook tests). Why not plain `nbconvert --execute`:
the Deno kernel (2.x) may publish a cell's outputs (console.log, Deno.jupyter displays)
on IOPub *after* it reports the cell idle, and nbclient drops such late messages, so
outputs went missing or landed in the next cell, more often the busier the machine.

Each cell is queued together with two followers: a barrier cell (a short sleep for late
displays, then a console.log of a one-off marker; every output that arrives before the
marker belongs to the cell just run) and a kernel_info_request, the probe. The Deno kernel
sends all console output to IOPub through one ordered queue, handles shell requests one
at a time, in order, and each socket delivers in order, so a message of a later request
proves that every earlier message on the same socket has arrived or was lost:

- the cell's outputs are complete once the marker has arrived (console output may lag far
  behind the cell's idle status on a busy machine); if the marker was lost, once a later
  request's message (the barrier's idle status, any message of a probe) has arrived and
  IOPub has then been quiet for QUIET_S;
- the cell's execute_reply is lost once a later request's reply (barrier, probe) arrives
  on shell without it, or once the cell's idle status (sent after the reply) has been in
  for REPLY_GRACE_S with no reply;
- when nothing at all arrives for a while (the probe's messages lost too, or a long quiet
  cell), another probe is sent (after 2 s, then 4, 8, ... up to 30 s apart).

A lost execute_reply is rebuilt from IOPub (status "error" when the cell published an
error, the execution count from execute_input), so a lost message costs seconds, not the
cell timeout. (The fault injection below, run against the previous runner, showed which
loss stalled: a lost idle status or output never did, a lost execute_reply, the cell's or
its barrier's, always did, until the cell timeout: the 600 s a CI run once took over a
single mangled message.)

A message that arrives mangled ("Invalid Signature": seen in CI about once in a few dozen
notebook runs, under load, from the Deno kernel's pure-Rust ZeroMQ sockets) is counted in
"transport_errors", described in "transport_log" (channel, message type, which frames
still parse as JSON, whether the signature frame is well formed: the evidence for telling
signature-only damage from damaged content) and skipped. The connection keeps its HMAC
key: the Deno kernel does accept an empty key (tried), which would stop jupyter_client from
checking signatures, but as long as the damage may be in the content, a checked signature
is what keeps a damaged message from being read as a good one. What was lost is listed in
"lost"; the caller decides what such a run is worth (the notebook test reruns it once when
its checks fail).

Fault injection, for the runner's own tests: METALAB_NB_MANGLE_EVERY=k damages every k-th
message received on IOPub or shell (a byte of its content is flipped, so jupyter_client
rejects its signature exactly as it does a real mangled message);
METALAB_NB_MANGLE_ONLY=iopub:status,shell:execute_reply counts only the messages named
(a channel, or channel:msg_type).

usage: run_notebook.py NOTEBOOK OUT KERNEL_NAME CELL_TIMEOUT_S BARRIER_MS
Prints one JSON line: {"ok", "cells", "failed_cell", "error", "transport_errors",
"transport_log", "lost"}; exit status 0 when ok.
"""

import json
import os
import queue
import re
import sys
import time
import uuid

import nbformat
from jupyter_client.manager import KernelManager
from nbformat.v4 import output_from_msg

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# A reply sent before the idle status that follows it, on another socket, is not a second late.
REPLY_GRACE_S = 1.0
# IOPub quiet time after a later request's message, when the barrier's marker was lost.
QUIET_S = 1.0
# The first re-probe after this much silence, doubling up to PROBE_MAX_S.
PROBE_FIRST_S = 2.0
PROBE_MAX_S = 30.0
# IOPub messages taken per round before shell is read again.
DRAIN_MAX = 500
LOG_LIMIT = 50


class CellTimeout(Exception):
    pass


class Mangled(ValueError):
    """A message that jupyter_client could not verify or decode (already counted and logged)."""


def parse_json(frame):
    try:
        return json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return None


class Transport:
    """Receives from IOPub and shell through jupyter_client, with every message's frames seen
    here first: mangled ones are counted, described and turned into Mangled, and the fault
    injection damages the messages it is told to."""

    def __init__(self, kc, result):
        self.kc = kc
        self.result = result
        self.channel = None
        self.every = int(os.environ.get("METALAB_NB_MANGLE_EVERY", "0"))
        self.only = [o for o in os.environ.get("METALAB_NB_MANGLE_ONLY", "").split(",") if o]
        self.counted = 0
        session = kc.session
        original = session.deserialize

        def deserialize(msg_list, content=True, copy=True):
            frames = [f if isinstance(f, bytes) else bytes(f.bytes) for f in msg_list]
            injected = self.inject(frames)
            try:
                return original(frames, content=content, copy=True)
            except Exception as e:  # noqa: BLE001 - any decoding failure is transport damage
                self.damaged(frames, e, injected)
                raise Mangled(str(e)) from e

        # The channels call session.deserialize for every message they receive.
        session.deserialize = deserialize

    def inject(self, frames):
        if self.every <= 0 or len(frames) < 5:
            return False
        header = parse_json(frames[1]) or {}
        tag = "%s:%s" % (self.channel, header.get("msg_type"))
        if self.only and not any(tag == o or tag.startswith(o + ":") for o in self.only):
            return False
        self.counted += 1
        if self.counted % self.every != 0:
            return False
        content = bytearray(frames[4])
        if content:
            content[len(content) // 2] ^= 0x01
        frames[4] = bytes(content)
        return True

    def damaged(self, frames, error, injected=False):
        self.result["transport_errors"] += 1
        parsed = [parse_json(f) for f in frames[1:5]]
        header = parsed[0] if parsed and isinstance(parsed[0], dict) else {}
        parent = parsed[1] if len(parsed) > 1 and isinstance(parsed[1], dict) else {}
        signature = frames[0] if frames else b""
        entry = {
            "channel": self.channel,
            "error": str(error)[:160],
            "frames": len(frames),
            "json_frames": [p is not None for p in parsed],
            "msg_type": header.get("msg_type"),
            "parent_msg_type": parent.get("msg_type"),
            "signature": "hex%d" % len(signature)
            if re.fullmatch(rb"[0-9a-f]*", signature) else "malformed",
            "injected": injected,
        }
        if len(self.result["transport_log"]) < LOG_LIMIT:
            self.result["transport_log"].append(entry)
        print("run_notebook: skipped a mangled %s message: %s" % (self.channel, json.dumps(entry)),
              file=sys.stderr)

    def get(self, channel, timeout):
        """The next message on `channel` ("iopub" or "shell"), None when it was mangled;
        raises queue.Empty when none arrives within `timeout` seconds."""
        self.channel = channel
        try:
            if channel == "iopub":
                return self.kc.get_iopub_msg(timeout=timeout)
            return self.kc.get_shell_msg(timeout=timeout)
        except Mangled:
            return None
        except (ValueError, TypeError, KeyError) as e:  # frames without a delimiter, too few
            self.damaged([], e)
            return None


def run(nb_path, out_path, kernel_name, cell_timeout, barrier_ms):
    nb = nbformat.read(nb_path, as_version=4)
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(cwd=os.path.dirname(os.path.abspath(nb_path)))
    kc = km.client()
    kc.start_channels()
    result = {"ok": True, "cells": 0, "failed_cell": None, "error": None,
              "transport_errors": 0, "transport_log": [], "lost": []}
    displays = {}  # display_id -> list of output dicts to update in place
    index = None
    try:
        kc.wait_for_ready(timeout=120)
        transport = Transport(kc, result)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            cell.execution_count = None
            if not cell.source.strip():
                continue
            result["cells"] += 1
            reply = run_cell(kc, transport, index, cell, barrier_ms, displays, cell_timeout, result)
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


def run_cell(kc, transport, index, cell, barrier_ms, displays, timeout, result):
    """Runs one cell (with its barrier and probe queued behind it), collects its outputs
    into `cell`, and returns its execute_reply, rebuilt from IOPub when it was lost."""
    marker = "metalab-barrier-%s" % uuid.uuid4().hex[:12]
    barrier = "await new Promise((resolve) => setTimeout(resolve, %d)); console.log(%s);" % (
        barrier_ms, json.dumps(marker))
    cell_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
    barrier_id = kc.execute(barrier, silent=False, store_history=False, allow_stdin=False)
    probes = [kc.kernel_info()]
    later = {barrier_id, probes[0]}  # requests queued after the cell
    started = time.monotonic()
    deadline = started + timeout
    reply = None
    reply_lost = False
    marker_seen = False
    ended_at = None  # when a message of a later request arrived
    cell_idle_at = None
    execution_count = None
    last_iopub = last_any = started
    probe_wait = PROBE_FIRST_S

    def outputs_done():
        return marker_seen or (ended_at is not None
                               and time.monotonic() - max(last_iopub, ended_at) > QUIET_S)

    while not ((reply is not None or reply_lost) and outputs_done()):
        now = time.monotonic()
        if now > deadline:
            waiting = []
            if reply is None and not reply_lost:
                waiting.append("its execute_reply")
            if not outputs_done():
                waiting.append("the end of its outputs")
            raise CellTimeout("timed out after %d s waiting for %s; it last printed: %s"
                              % (timeout, " and ".join(waiting), last_printed(cell)))
        drained = 0
        while drained < DRAIN_MAX:  # bounded, so that shell is read between floods
            try:
                msg = transport.get("iopub", 0 if drained else 0.01)
            except queue.Empty:
                break
            now = last_iopub = last_any = time.monotonic()
            drained += 1
            if msg is None:
                continue
            parent = msg["parent_header"].get("msg_id")
            kind = msg["msg_type"]
            content = msg["content"]
            idle = kind == "status" and content.get("execution_state") == "idle"
            if parent == cell_id and idle:
                cell_idle_at = now
            elif (parent == barrier_id and idle) or parent in probes:
                ended_at = ended_at or now
            if kind == "execute_input" and parent == cell_id:
                execution_count = content.get("execution_count")
            if kind == "stream" and marker in content.get("text", ""):
                # Console output reaches IOPub through one ordered queue: all of the
                # cell's came before the barrier's marker.
                marker_seen = True
                content["text"] = content["text"].replace(marker + "\n", "").replace(marker, "")
                if not content["text"]:
                    continue
            record(msg, cell, displays)
        first = True
        while True:  # every shell message in, so that "no reply yet" means it
            try:
                msg = transport.get("shell", 0 if drained or not first else 0.05)
            except queue.Empty:
                break
            first = False
            last_any = time.monotonic()
            if msg is None:
                continue
            parent = msg["parent_header"].get("msg_id")
            if parent == cell_id:
                reply = msg
            elif parent in later:
                # Shell is ordered too: the cell's reply would have come before this one.
                ended_at = ended_at or time.monotonic()
                if reply is None and not reply_lost:
                    reply_lost = True
                    result["lost"].append("cell %d: execute_reply" % index)
        now = time.monotonic()
        if (reply is None and not reply_lost and cell_idle_at is not None
                and now - cell_idle_at > REPLY_GRACE_S):
            reply_lost = True
            result["lost"].append("cell %d: execute_reply" % index)
        if now - last_any > probe_wait:
            probe = kc.kernel_info()
            probes.append(probe)
            later.add(probe)
            last_any = now
            probe_wait = min(probe_wait * 2, PROBE_MAX_S)
    if not marker_seen:
        result["lost"].append("cell %d: the barrier's output marker" % index)
    if reply is not None:
        return reply
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    content = {"status": "error" if errors else "ok", "execution_count": execution_count}
    if errors:
        content.update(ename=errors[0].get("ename"), evalue=errors[0].get("evalue"),
                       traceback=errors[0].get("traceback", []))
    return {"content": content}


def last_printed(cell):
    """What a cell showed last, for a timeout message: its last output, shortened."""
    for out in reversed(cell.outputs):
        kind = out.get("output_type")
        if kind == "stream":
            text = ANSI.sub("", out.get("text", "")).rstrip()
            if text:
                return repr(text[-300:])
        elif kind == "error":
            return repr("%s: %s" % (out.get("ename"), out.get("evalue")))
        else:
            data = out.get("data", {})
            if "text/plain" in data:
                return repr(str(data["text/plain"])[-300:])
            return "a %s output" % ", ".join(sorted(data)) if data else "an empty output"
    return "nothing"


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
