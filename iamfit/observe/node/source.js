'use strict';
// iamfit observe: name the Serverless plugin behind each AWS call the CLI makes.
//
// Loaded into the observed CLI only (NODE_OPTIONS=--require <this file>), never into anything else. Plugins call
// AWS through the Framework's `provider.request(service, method, params)` (lib/plugins/aws/provider.js in
// serverless v3 and osls), so the user agent is the Framework's; the caller is on the stack of that call. This
// file wraps AwsProvider.prototype.request when the provider module loads, reads the package of its caller from
// the stack (the first frame under node_modules/<package>/), and carries it in an AsyncLocalStorage context down
// to the HTTP request the SDK makes, which gets an `x-iamfit-source: <package>` header (SDK v2 through iamfit's
// proxy, SDK v3 through AWS_ENDPOINT_URL; SigV4 does not sign it, the local AWS ignores it, iamfit records it).
// The Framework's own calls (package serverless / osls) get no header. The Framework's request queue
// (promise-queue) runs a queued request from whichever request finished: its `add` binds the caller's context.
const Module = require('module');
const http = require('http');
const https = require('https');
const { AsyncLocalStorage, AsyncResource } = require('async_hooks');

const HEADER = 'x-iamfit-source';
const FRAMEWORK = new Set(['serverless', 'osls']);
const PROVIDER = /[\\/]node_modules[\\/](?:serverless|osls)[\\/]lib[\\/]plugins[\\/]aws[\\/]provider\.js$/;
const QUEUE = /[\\/]node_modules[\\/]promise-queue[\\/]/;
const PACKAGE = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/g;
const context = new AsyncLocalStorage();

function callerPackage(stack) {
  for (const line of stack.split('\n').slice(1)) {
    if (line.includes(__filename)) continue;
    let name = null;
    for (const found of line.matchAll(PACKAGE)) name = found[1].replace(/\\/g, '/');
    if (name === null) continue; // node internals, the service's own files
    return FRAMEWORK.has(name) ? null : name;
  }
  return null;
}

function patchProvider(AwsProvider) {
  if (typeof AwsProvider !== 'function' || !AwsProvider.prototype || AwsProvider.prototype.request.iamfit) return;
  const request = AwsProvider.prototype.request;
  const wrapped = function (...args) {
    const source = callerPackage(new Error().stack || '');
    return source ? context.run(source, () => request.apply(this, args)) : request.apply(this, args);
  };
  wrapped.iamfit = true;
  AwsProvider.prototype.request = wrapped;
}

function patchQueue(PromiseQueue) {
  if (typeof PromiseQueue !== 'function' || !PromiseQueue.prototype.add || PromiseQueue.prototype.add.iamfit) return;
  const add = PromiseQueue.prototype.add;
  PromiseQueue.prototype.add = function (generator) {
    return add.call(this, typeof generator === 'function' ? AsyncResource.bind(generator) : generator);
  };
  PromiseQueue.prototype.add.iamfit = true;
}

const load = Module._extensions['.js'];
Module._extensions['.js'] = function (module, filename) {
  load.call(this, module, filename);
  try {
    if (PROVIDER.test(filename)) patchProvider(module.exports);
    else if (QUEUE.test(filename)) patchQueue(module.exports);
  } catch (error) {
    // never break the CLI being observed: the call is then attributed to the CLI
  }
};

function tag(original) {
  return function (...args) {
    const source = context.getStore();
    if (source) {
      const at = typeof args[0] === 'object' && args[0] !== null && !(args[0] instanceof URL) ? 0 : 1;
      if (typeof args[at] === 'object' && args[at] !== null) {
        args[at] = { ...args[at], headers: { ...(args[at].headers || {}), [HEADER]: source } };
      }
    }
    return original.apply(this, args);
  };
}
https.request = tag(https.request);
http.request = tag(http.request);
