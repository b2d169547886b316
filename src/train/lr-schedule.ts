// Learning-rate schedules, as pure functions of the epoch and a small state that a checkpoint can store.

export type ScheduleSpec =
  | { type: 'none' }
  | { type: 'reduce-on-plateau'; factor: number; patience: number; minLr: number }
  | { type: 'cosine'; minLr: number }
  | { type: 'step'; every: number; factor: number };

export interface ScheduleState {
  /** The current rate for reduce-on-plateau (other schedules compute it from the epoch). */
  lr: number;
  /** Best monitored value so far (reduce-on-plateau), lower is better. */
  best: number | null;
  /** Epochs since the best value improved. */
  wait: number;
}

export function initialScheduleState(initialLr: number): ScheduleState {
  return { lr: initialLr, best: null, wait: 0 };
}

/** The rate to train epoch `epoch` (0-based) of `epochs` with; `epochs` may be fractional (a time budget's estimate). */
export function learningRateFor(spec: ScheduleSpec, initialLr: number, epoch: number, epochs: number, state: ScheduleState): number {
  switch (spec.type) {
    case 'none':
      return initialLr;
    case 'reduce-on-plateau':
      return state.lr;
    case 'cosine': {
      // Half a cosine from initialLr at epoch 0 down towards minLr at the end.
      const t = epochs <= 1 ? 0 : Math.min(1, epoch / (epochs - 1));
      return spec.minLr + 0.5 * (initialLr - spec.minLr) * (1 + Math.cos(Math.PI * t));
    }
    case 'step':
      return initialLr * spec.factor ** Math.floor(epoch / spec.every);
  }
}

/**
 * After an epoch: feed the monitored value (lower is better, e.g. val_loss). Reduce-on-plateau multiplies the
 * rate by `factor` (not below minLr) once `patience` epochs pass without improvement. Returns the new state.
 */
export function afterEpoch(spec: ScheduleSpec, state: ScheduleState, monitored: number): ScheduleState {
  if (spec.type !== 'reduce-on-plateau') return state;
  if (state.best === null || monitored < state.best) return { lr: state.lr, best: monitored, wait: 0 };
  const wait = state.wait + 1;
  if (wait >= spec.patience) {
    return { lr: Math.max(spec.minLr, state.lr * spec.factor), best: state.best, wait: 0 };
  }
  return { ...state, wait };
}
