// Who may open the demo's admin page: requests made on this machine, to this machine's own name.
'use strict';

/**
 * True for a request from a loopback address (the TCP peer itself, never X-Forwarded-For, which
 * anyone can write) that also names a loopback host: a page on another site that got its domain
 * to resolve to 127.0.0.1 (DNS rebinding) still sends its own name in Host, and is refused.
 */
function isLocalRequest(req) {
  const address = req.socket.remoteAddress ?? '';
  const fromLoopback = address === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
  const hostname = String(req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  const toLoopback = hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
  return fromLoopback && toLoopback;
}

module.exports = { isLocalRequest };
