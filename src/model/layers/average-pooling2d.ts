// averagePooling2d: the mean over each window.
import { pooling } from './pooling.js';

export const averagePooling2d = pooling('averagePooling2d', 'AveragePooling2D', 'Mean over each window.');
