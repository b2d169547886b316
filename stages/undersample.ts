// Random under-sampling of chosen splits (default: train only), as imbalanced-learn's RandomUnderSampler.
import { defineResampleStage } from '../src/data/resample-stage.js';

export default defineResampleStage('under');
