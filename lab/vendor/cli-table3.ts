/** cli-table3, as lab loads it: one file after the build (see ioredis.ts here). */
export { default } from 'cli-table3';
