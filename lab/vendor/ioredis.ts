/**
 * ioredis, as lab loads it: the build (vendor-bundle.ts) replaces this module's output with one file holding ioredis
 * and its dependencies — Node then reads and compiles one file instead of ~30 CommonJS modules, each resolved on
 * disk. Without that step it is this re-export, and works the same. Only the Redis adapters import it.
 */
export { Redis } from 'ioredis';
