// A usage error is bad input from the person at the terminal: it becomes a one-line message and exit code 2.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
