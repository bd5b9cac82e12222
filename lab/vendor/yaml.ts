/** yaml, as lab loads it: one file after the build (see ioredis.ts here) instead of 36 modules. */
export { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, stringify } from 'yaml';
