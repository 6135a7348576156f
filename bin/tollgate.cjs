#!/usr/bin/env node
'use strict';
// `npx tollgate ...` from the repo: runs the TypeScript admin CLI through tsx, without a build step.
// The CLI lives in lambda/cli/ and is never imported by the Lambda handlers.
const { register } = require('tsx/cjs/api');

// The SDK's "Node 20 support ends" notice would be printed on every admin command; it is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
const { main } = require('../lambda/cli/main.ts');

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err) => {
    process.stderr.write(`tollgate: ${err && err.message ? err.message : String(err)}\n`);
    exitAfterFlush(1);
  },
);

// Exit explicitly once output is flushed: a lingering socket must not keep an admin command hanging.
function exitAfterFlush(code) {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
