// Stands in for undici in the plugin bundle. @kubernetes/client-node 2.x
// imports undici (which needs Node >= 22) for its generated API clients and
// proxy dispatchers; the plugin sends its requests through node:https with
// KubeConfig.applyToHTTPSOptions, which never touches undici, so the bundle
// leaves undici out and still runs on Node 20. Reaching one of these means a
// code path the plugin does not support: say so instead of failing oddly.
function absent(): never {
  throw new Error(
    "kubectl-modelops: this kubeconfig feature needs undici, which the plugin bundle leaves out",
  );
}

export class Agent {
  constructor() {
    absent();
  }
}

export class ProxyAgent {
  constructor() {
    absent();
  }
}

export const fetch = absent;
