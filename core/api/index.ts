// The public surface of the etcd v2 HTTP keys API as pure functions.
export { parseKeysRequest, keysRequest, KEYS_PREFIX, type HttpRequestInput, type ParsedKeysRequest } from './request.ts';
export {
  renderKeysResponse,
  renderStoreStats,
  replyOf,
  eventJson,
  errorJson,
  nodeJson,
  isCreated,
  type KeysReply,
  type ReplyContext,
  type HttpResponse,
} from './response.ts';
export { goJsonString } from './json.ts';
export { parseQuery, parseForm, unescape, parseMediaType, type FormValues } from './form.ts';
