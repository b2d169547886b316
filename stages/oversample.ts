// Random over-sampling of chosen splits (default: train only), as imbalanced-learn's RandomOverSampler.
import { defineResampleStage } from '../src/data/resample-stage.js';

export default defineResampleStage('over');
