// Facts about the FER2013 dataset (Goodfellow et al., 2013) that the ingest and split stages use as defaults.

/** Class names in label order: emotion k is FER2013_CLASSES[k]. */
export const FER2013_CLASSES = ['Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral'];

/** Values of the `Usage` column. */
export const FER2013_USAGES = ['Training', 'PublicTest', 'PrivateTest'];

/** The usual reading of FER2013's Usage column: PublicTest for validation, PrivateTest as the held-out test set. */
export const FER2013_SPLIT_MAP: Record<string, string> = {
  Training: 'train',
  PublicTest: 'validation',
  PrivateTest: 'test',
};
