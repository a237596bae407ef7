import 'reflect-metadata';

// Unhandled-error logs of the default logger would drown the report; tests that check
// logging give the app a logger of their own.
process.env.LOG_LEVEL ??= 'silent';
