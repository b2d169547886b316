// What each of FER2013's seven expressions looks like on a cartoon face, and the random identity, pose and lighting
// around it. Every face is drawn at a random intensity between neutral and the full expression, with jitter on
// every feature, so that neighbouring classes (fear/surprise, anger/disgust, sadness/neutral) overlap: the classes
// are learnable but not trivially separable.
import type { FaceParams } from './face-drawing.js';
import type { Random } from './random.js';

/** FER2013's class names, in its label order. */
export const EXPRESSIONS = ['Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral'] as const;

type Expression = Pick<
  FaceParams,
  'mouthCurve' | 'mouthSkew' | 'mouthWidth' | 'mouthOpenUp' | 'mouthOpenDown' | 'teeth' | 'browRaise' | 'browTilt' | 'browArch' | 'eyeOpen' | 'noseWrinkle'
>;

const NEUTRAL: Expression = {
  mouthCurve: 0,
  mouthSkew: 0,
  mouthWidth: 0.34,
  mouthOpenUp: 0,
  mouthOpenDown: 0,
  teeth: 0,
  browRaise: 0,
  browTilt: 0,
  browArch: 0.03,
  eyeOpen: 1,
  noseWrinkle: 0,
};

/** The full expression for each class; some draw a variant (open or closed mouth, which side is raised). */
const FULL: Record<(typeof EXPRESSIONS)[number], (r: Random) => Partial<Expression>> = {
  Angry: (r) => ({
    mouthCurve: -0.04,
    mouthWidth: 0.33,
    ...(r.next() < 0.4 ? { mouthOpenUp: 0.05, mouthOpenDown: 0.07, teeth: 0.7 } : {}),
    browRaise: -0.09,
    browTilt: 0.13,
    browArch: 0,
    eyeOpen: 0.7,
  }),
  Disgust: (r) => ({
    mouthCurve: -0.07,
    mouthSkew: r.next() < 0.5 ? 0.08 : -0.08,
    mouthWidth: 0.32,
    ...(r.next() < 0.5 ? { mouthOpenUp: 0.06, mouthOpenDown: 0.01, teeth: 0.8 } : {}),
    browRaise: -0.06,
    browTilt: 0.07,
    eyeOpen: 0.55,
    noseWrinkle: 0.9,
  }),
  Fear: () => ({
    mouthCurve: -0.07,
    mouthWidth: 0.42,
    mouthOpenUp: 0.03,
    mouthOpenDown: 0.1,
    teeth: 0.3,
    browRaise: 0.1,
    browTilt: -0.09,
    eyeOpen: 1.4,
  }),
  Happy: (r) => ({
    mouthCurve: 0.17,
    mouthWidth: 0.46,
    ...(r.next() < 0.5 ? { mouthOpenUp: 0.02, mouthOpenDown: 0.17, teeth: 0.45 } : {}),
    browRaise: 0.03,
    eyeOpen: 0.7,
  }),
  Sad: () => ({
    mouthCurve: -0.13,
    mouthWidth: 0.32,
    browRaise: 0.02,
    browTilt: -0.11,
    browArch: -0.02,
    eyeOpen: 0.72,
  }),
  Surprise: () => ({
    mouthWidth: 0.17,
    mouthOpenUp: 0.12,
    mouthOpenDown: 0.22,
    browRaise: 0.15,
    browArch: 0.07,
    eyeOpen: 1.5,
  }),
  Neutral: () => ({}),
};

/** Standard deviation of the per-face jitter of each feature. */
const JITTER: Expression = {
  mouthCurve: 0.03,
  mouthSkew: 0.015,
  mouthWidth: 0.04,
  mouthOpenUp: 0.015,
  mouthOpenDown: 0.025,
  teeth: 0.1,
  browRaise: 0.03,
  browTilt: 0.03,
  browArch: 0.02,
  eyeOpen: 0.12,
  noseWrinkle: 0.1,
};

const NON_NEGATIVE: (keyof Expression)[] = ['mouthOpenUp', 'mouthOpenDown', 'teeth', 'noseWrinkle', 'eyeOpen'];

function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Random parameters of a face showing expression `label` (index into EXPRESSIONS) in a size×size image. */
export function sampleFace(label: number, random: Random, size: number): FaceParams {
  const full = { ...NEUTRAL, ...FULL[EXPRESSIONS[label]](random) };
  const intensity = random.uniform(0.45, 1);
  const expression = {} as Expression;
  for (const key of Object.keys(NEUTRAL) as (keyof Expression)[]) {
    let value = NEUTRAL[key] + intensity * (full[key] - NEUTRAL[key]) + JITTER[key] * random.normal();
    if (NON_NEGATIVE.includes(key)) value = Math.max(0, value);
    expression[key] = value;
  }
  expression.mouthWidth = clip(expression.mouthWidth, 0.12, 0.6);
  expression.eyeOpen = clip(expression.eyeOpen, 0.25, 1.9);
  expression.teeth = clip(expression.teeth, 0, 0.9);
  // A barely open mouth reads as closed; keep openings either clearly there or absent.
  if (expression.mouthOpenUp + expression.mouthOpenDown < 0.04) expression.mouthOpenUp = expression.mouthOpenDown = 0;

  const skin = random.uniform(105, 225);
  return {
    ...expression,
    cx: size / 2 + random.normal() * size * 0.04,
    cy: size / 2 + size * 0.03 + random.normal() * size * 0.04,
    scale: size * random.uniform(0.3, 0.4),
    aspect: random.uniform(1.15, 1.35),
    angle: clip(random.normal() * 0.13, -0.35, 0.35),
    eyeSpacing: random.uniform(0.34, 0.42),
    eyeHeight: random.uniform(-0.26, -0.12),
    mouthHeight: random.uniform(0.55, 0.7),
    skin,
    background: random.uniform(15, 240),
    hair: random.next() < 0.8 ? random.uniform(5, 110) : random.uniform(150, 230),
    hairline: random.next() < 0.75 ? random.uniform(0.25, 0.65) : 0,
    contrast: random.uniform(0.6, 1.25),
    brightness: random.normal() * 15,
    gradient: random.uniform(0, 70),
    gradientAngle: random.uniform(0, 2 * Math.PI),
    noise: random.uniform(1, 10),
  };
}
