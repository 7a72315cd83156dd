export * from './errors.js';
export * from './messages.js';
export { assertMessage } from './guards.js';
export { assembleFrame, encodeMessage, encodeFrameParts, decodeMessage, allFinite, type FrameParts } from './codec.js';
export { tokensEqual } from './token.js';
export { weightsCrc } from './checksum.js';
export { GRAD_DTYPES, HALF_BLOCK, decodeHalf, encodeHalf, halfToFloatTable, type EncodedGradient, type GradDtype } from './half.js';
