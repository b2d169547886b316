// CI gates: conditions on a run's metrics that fail the run, written as `<metric> <op> <number>`, e.g.
// "test.accuracy < 0.6" (fail when test accuracy is below 0.6). They come from `pipe run --fail-if` and from
// a pipeline's `gates: { failIf: [...] }`; metric names are listed in src/report/run-metrics.ts.

export type GateOperator = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Gate {
  /** As written, e.g. "test.accuracy < 0.6". */
  text: string;
  metric: string;
  op: GateOperator;
  threshold: number;
  /** Where it was given: "--fail-if" or "<pipeline file> gates.failIf[0]". */
  from: string;
}

/** Exit code of a run whose stages all succeeded but a gate failed (1 is a failed stage, 2 bad input). */
export const GATE_FAILED_EXIT_CODE = 3;

const GATE = /^\s*([A-Za-z_][\w.-]*)\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(%?)\s*$/i;

export const GATE_SYNTAX_HINT = "write '<metric> <op> <number>', e.g. 'test.accuracy < 0.6' or 'test.macroF1 <= 50%' (op: < <= > >= == !=)";

/** The gate, or a message saying what is wrong with the text. */
export function parseGate(text: string, from: string): Gate | string {
  const m = GATE.exec(text);
  if (!m) return `'${text}' is not a gate condition`;
  const threshold = Number(m[3]) / (m[4] ? 100 : 1);
  return { text: text.trim(), metric: m[1], op: m[2] as GateOperator, threshold, from };
}

/** True when the condition holds, i.e. the gate fails the run. */
export function gateTrips(gate: Gate, value: number): boolean {
  switch (gate.op) {
    case '<':
      return value < gate.threshold;
    case '<=':
      return value <= gate.threshold;
    case '>':
      return value > gate.threshold;
    case '>=':
      return value >= gate.threshold;
    case '==':
      return value === gate.threshold;
    case '!=':
      return value !== gate.threshold;
  }
}
