// The process `pipe worker` builds one stage job in (forked per job, with an IPC channel). The worker's own
// process only waits, so it keeps renewing its hold on the job in Redis however long a stage keeps its thread
// busy; and each stage gets a TensorFlow.js engine and a heap of its own, as in a local run's process. The
// messages both ways are typed in job.ts.
// SIGTERM (the worker stopping) interrupts the stage at its next safe point; so does the worker's death (the
// channel closes), so nothing is left half-written and no orphan goes on building.
import { failureReason, queueKey, type StageJobMessage, type StageJobRequest } from './job.js';
import { HandedBack, processStageJob } from './process-job.js';

const abort = new AbortController();
process.on('SIGTERM', () => abort.abort());
process.on('SIGINT', () => abort.abort());
process.on('disconnect', () => abort.abort());

const send = (message: StageJobMessage) => new Promise<void>((resolve) => (process.connected ? process.send!(message, () => resolve()) : resolve()));

process.once('message', (request: StageJobRequest) => {
  void processStageJob(request.job, {
    worker: request.worker,
    labels: request.labels,
    attempt: request.attempt,
    queueKey: queueKey(),
    signal: abort.signal,
    progress: (update) => void send({ progress: update }),
  })
    .then(
      (result) => send({ result }),
      (error: unknown) => send(error instanceof HandedBack || abort.signal.aborted ? { handedBack: true } : { failure: failureReason(error) }),
    )
    // Exit at once: nothing the stage started may keep this process (and so the job) alive.
    .finally(() => process.exit(0));
});
