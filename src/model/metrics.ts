// Classification metrics from a confusion matrix: pure functions, no tfjs.
//
// Conventions (those of scikit-learn): rows of the confusion matrix are true classes, columns predicted classes;
// a precision or recall whose denominator is 0 counts as 0; balanced accuracy is the mean recall over classes
// that occur in the truth; macro F1 averages over classes that occur in the truth or in the predictions.
// The evaluate stage writes them per split into metrics.json (src/formats/metrics.ts).
import type { ClassificationMetrics, ClassMetrics } from '../formats/metrics.js';

export function emptyConfusion(classCount: number): number[][] {
  return Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
}

/** Add (true, predicted) pairs to a confusion matrix in place. */
export function addToConfusion(confusion: number[][], truth: ArrayLike<number>, predicted: ArrayLike<number>): void {
  if (truth.length !== predicted.length) throw new RangeError(`${truth.length} true labels but ${predicted.length} predictions`);
  for (let i = 0; i < truth.length; i++) confusion[truth[i]][predicted[i]]++;
}

export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classCount: number): number[][] {
  const m = emptyConfusion(classCount);
  addToConfusion(m, truth, predicted);
  return m;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export function metricsFromConfusion(confusion: number[][], classes: string[]): ClassificationMetrics {
  const k = confusion.length;
  if (classes.length !== k) throw new RangeError(`${classes.length} class names for a ${k}×${k} confusion matrix`);
  const rowSums = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = confusion[0]?.map((_, j) => confusion.reduce((s, row) => s + row[j], 0)) ?? [];
  const count = rowSums.reduce((a, b) => a + b, 0);
  let correct = 0;
  const perClass: ClassMetrics[] = [];
  let recallSum = 0;
  let recallClasses = 0;
  let f1Sum = 0;
  let f1Classes = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    correct += tp;
    const precision = ratio(tp, colSums[c]);
    const recall = ratio(tp, rowSums[c]);
    const f1 = ratio(2 * precision * recall, precision + recall);
    perClass.push({ class: classes[c], precision, recall, f1, support: rowSums[c] });
    if (rowSums[c] > 0) {
      recallSum += recall;
      recallClasses++;
    }
    if (rowSums[c] > 0 || colSums[c] > 0) {
      f1Sum += f1;
      f1Classes++;
    }
  }
  return {
    count,
    accuracy: ratio(correct, count),
    balancedAccuracy: ratio(recallSum, recallClasses),
    macroF1: ratio(f1Sum, f1Classes),
    perClass,
    classes: [...classes],
    confusion: confusion.map((row) => [...row]),
  };
}
