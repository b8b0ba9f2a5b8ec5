/**
 * `omniglot-learners`: the course's comparison of notebook 03 on Omniglot — the seed's
 * meta-classifier, fixed into a task-conditioned (CAVIA-style) classifier, beside MAML and
 * ProtoNet, all on the same Conv-4 and the same budget schedule, so that the ranking is a
 * property of the learners, not of their budgets.
 *
 * The budget schedule fits on a laptop (about half an hour on two idle cores, the trained models ship
 * in `models/`): 5-way 1-shot, Conv-4 with 32 filters, 1,000 meta-steps of 4 tasks (ProtoNet:
 * 1,000 episodes), Adam 1e-3; MAML takes Finn et al.'s inner step (α = 0.4, 1 step, 3 at
 * test time); the MetaClassifier adapts a 64-number context by one step of α = 100
 * (notebook 03's rate: at c = 0 the context's gradient is small). Finn et al.'s schedule
 * (`omniglot-maml`) is 60,000 steps of 32 tasks: these numbers are below the published ones
 * by design, and the notes say how far each learner trained.
 * @module
 */
import { omniglotExperiment, type OmniglotPresets } from "./omniglot.ts";

/** 5-way 1-shot, 1,000 meta-steps of 4 tasks on a 32-filter Conv-4 (quick: 20 of 2, 16 filters). */
const BUDGET_PRESETS: OmniglotPresets = {
  ways: 5,
  shots: 1,
  trainSteps: [20, 1000],
  metaBatchSize: [2, 4],
  protoTrainWays: [5, 5],
  protocol: "standard",
  filters: [16, 32],
  evalEpisodes: [50, 600],
};

/** The MetaClassifier, MAML and ProtoNet on Omniglot 5-way 1-shot, one budget for all. */
export const omniglotLearners = omniglotExperiment({
  name: "omniglot-learners",
  title: "Omniglot 5-way 1-shot: the task-conditioned MetaClassifier beside MAML and ProtoNet",
  description: "The course's classifier comparison (notebook 03): the seed's meta-classifier " +
    "fixed into a CAVIA-style task-conditioned classifier (a 64-number context, FiLM on " +
    "Conv-4 features, 1 inner step α=100), second-order MAML (1 step α=0.4, 3 at test time) " +
    "and ProtoNet, on one budget schedule: Conv-4 with 32 filters, 1,000 meta-steps of 4 " +
    "tasks (ProtoNet: 1,000 episodes), Adam 1e-3; 600 test episodes of new characters.",
  presets: BUDGET_PRESETS,
  setting: {
    learners: ["protonet", "maml", "metaclassifier"],
    halveEvery: 0,
    learnerObjective: { metaclassifier: { innerLr: 100 } },
    // The context was trained for one step; more steps of α = 100 overshoot it.
    learnerTestSteps: { metaclassifier: 1 },
    // Every learner meets this budget, so none of them has a published number for it.
    publishedKey: (learner, ways, shots) => `omniglot-budget/${ways}w${shots}s/${learner}`,
    fullNote: "a budget schedule (1,000 meta-steps of 4 tasks, 32 filters), the same for " +
      "every learner: below Finn et al.'s 60,000 steps of 32 tasks by design (omniglot-maml " +
      "and omniglot-protonet run the published schedules)",
  },
});
