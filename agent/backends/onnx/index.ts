/** onnx/: the reservoir as an ONNX graph (GRAPH.md), run by ONNX Runtime. */
export {
  createOnnxBackend,
  OnnxBackend,
  type OnnxBackendOptions,
  type Arithmetic,
  type Precision,
  type Recurrent,
} from './backend.js';
export {
  accumulatorBound,
  buildReservoirGraph,
  chooseArithmetic,
  chooseRecurrent,
  FLOAT32_EXACT,
  GRAPH_VERSION,
  IO,
  IR_VERSION,
  META,
  OPSET,
  type BuildOptions,
  type BuiltGraph,
} from './graph.js';
export {
  cacheFileName,
  defaultOnnxCacheDir,
  graphProblem,
  loadOrBuildGraph,
  type CachedGraph,
  type GraphVariant,
} from './cache.js';
