/**
 * Runs before every test file: no test may reach AWS or the internet. Any AWS SDK client a test forgets
 * to point at a loopback double gets a dead loopback endpoint and dummy credentials, so it fails fast
 * instead of calling a real service or the instance metadata endpoint.
 */
process.env.AWS_ENDPOINT_URL ??= 'http://127.0.0.1:9';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
