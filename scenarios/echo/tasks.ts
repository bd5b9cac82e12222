/** The book's test.py: app "test" with one task, echo. */
import { App } from '../../lab/queue/index.js';

export const app = new App('test', { include: [new URL('./tasks.js', import.meta.url)] });

export const echo = app.task('test.echo', (message: unknown) => message, { params: ['message'] });
