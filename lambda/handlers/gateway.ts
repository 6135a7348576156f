// Placeholder: the Lambda streaming entrypoint is being written (exports `handler`).
export const handler = async (): Promise<void> => undefined;
