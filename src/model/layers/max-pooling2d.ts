// maxPooling2d: the maximum over each window.
import { pooling } from './pooling.js';

export const maxPooling2d = pooling('maxPooling2d', 'MaxPooling2D', 'Maximum over each window.');
