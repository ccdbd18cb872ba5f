// The host side of MCP Apps, as the test host page imports it.
export { AppBridge, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';
