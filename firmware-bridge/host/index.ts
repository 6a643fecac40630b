/**
 * The host side of the firmware bridge: the serial protocol of firmware-bridge/PROTOCOL.md
 * (codec, frame parser, model image), a client for one board, and the `serial` backend.
 */
export { cobsDecode, cobsEncode, cobsMaxEncodedLength } from './cobs.js';
export {
  CRC_SIZE,
  DEFAULT_MAX_PAYLOAD,
  ErrorCode,
  HEADER_SIZE,
  HELLO_SIZE,
  MAX_PAYLOAD_FIELD,
  MIN_FRAME_SIZE,
  MessageType,
  PROTOCOL_VERSION,
  PayloadError,
  RESPONSE_FLAG,
  SHA256_SIZE,
  STATS_SIZE,
  decodeError,
  decodeFrameBody,
  decodeHello,
  decodeOffset,
  decodeSha256,
  decodeStats,
  decodeStepResponse,
  encodeError,
  encodeFrame,
  encodeHello,
  encodeReset,
  encodeStats,
  encodeStep,
  encodeUploadBegin,
  encodeUploadChunk,
  errorName,
  maxFrameSize,
  messageTypeName,
  shaBytes,
  stepResponseSize,
  wireSize,
  type DeviceError,
  type DeviceStats,
  type ErrorName,
  type Frame,
  type FrameDecodeResult,
  type FrameRejection,
  type HelloInfo,
  type MessageTypeName,
  type RequestType,
  type StepResult,
} from './frame.js';
export {
  FrameDecoder,
  FrameParser,
  type DecoderCounters,
  type FrameDecoderOptions,
} from './parser.js';
export {
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  IMAGE_VERSION,
  imageSha256,
  imageShape,
  imageSize,
  modelImage,
  type ImageShape,
} from './image.js';
export {
  BoardClient,
  BoardError,
  type BoardClientEvents,
  type BoardClientOptions,
  type BoardErrorCode,
  type LinkCounters,
  type LinkStatus,
} from './client.js';
export {
  CHECKPOINT_SAMPLES,
  SerialBackend,
  openSerialBackend,
  type SerialBackendOptions,
} from './serial-backend.js';
export { deviceDir, ensureVirtualBoard, virtualBoardPath } from './virtual-board.js';
