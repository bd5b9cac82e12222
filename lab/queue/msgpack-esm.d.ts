// The ESM build of @msgpack/msgpack (msgpack-codec.ts imports it by path): the same API as the package's own types.
declare module '@msgpack/msgpack/dist.esm/index.mjs' {
  export * from '@msgpack/msgpack';
}
