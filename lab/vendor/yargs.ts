/** yargs and its helpers, as the CLI loads them: one file after the build (see ioredis.ts here). */
export { default } from 'yargs';
export { hideBin } from 'yargs/helpers';
