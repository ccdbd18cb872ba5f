// Bundles the official MCP Apps host bridge into one browser module, for app.test.mjs.
import path from 'node:path';

export default {
  logLevel: 'warn',
  build: {
    lib: { entry: path.join(import.meta.dirname, 'bridge.entry.mjs'), formats: ['es'], fileName: () => 'bridge.js' },
    outDir: process.env.APPHOST_OUT,
    emptyOutDir: false,
    minify: false,
  },
};
