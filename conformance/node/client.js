#!/usr/bin/env node
/*
 * A test driver for Node's xDS client (@grpc/grpc-js-xds): it calls services by xds:///<name>
 * as a user's Node program would, and is driven line by line over stdin/stdout by
 * xds-control-server's GrpcJsXdsIT (see NodeXdsDriver.java).
 *
 * The xDS bootstrap comes from GRPC_XDS_BOOTSTRAP_CONFIG (JSON) or GRPC_XDS_BOOTSTRAP (a file),
 * read by grpc-js-xds itself.
 *
 * Requests, one a line; every request starts with an id the answer repeats, and requests run
 * concurrently (a held call does not block the next line):
 *
 *   <id> call <service> <method> <n> [--timeout=ms] [--parallel] [--wait-for-ready] [name=value ...]
 *       n unary calls to /meshlet.test.Echo/<method> on the service's channel, one after another
 *       (or all at once with --parallel); name=value pairs are request headers.
 *       -> {"id":..,"results":[{"ok":true,"who":"a","ms":3},
 *                              {"ok":false,"code":14,"status":"UNAVAILABLE","details":"..","ms":1}]}
 *   <id> state <service>        -> {"id":..,"state":"READY"}  (asks an idle channel to connect)
 *   <id> close <service>        -> {"id":..,"closed":true}    (the next call opens a new channel)
 *   <id> ping                   -> {"id":..,"pong":true,"grpcJs":"1.14.7","grpcJsXds":"1.14.1"}
 *
 * A request that cannot be parsed is answered {"id":..,"error":"..."}. The driver exits when
 * stdin closes.
 */
'use strict';

const grpc = require('@grpc/grpc-js');
const grpcJsXds = require('@grpc/grpc-js-xds');
const readline = require('readline');

grpcJsXds.register();

// grpc-js-xds reports a bad bootstrap on each call only as "Cannot read properties of null
// (reading 'clientDefaultListenerResourceNameTemplate')": read it once here to fail with the reason.
// (An internal module: skipped quietly if a later version moves it.)
let loadBootstrapInfo = null;
try {
  loadBootstrapInfo = require('@grpc/grpc-js-xds/build/src/xds-bootstrap').loadBootstrapInfo;
} catch (e) {
  // not there in this version
}
if (loadBootstrapInfo) {
  try {
    loadBootstrapInfo();
  } catch (e) {
    process.stderr.write(`bad xDS bootstrap: ${e.message}\n`);
    process.exit(2);
  }
}

const ECHO_SERVICE = 'meshlet.test.Echo';
const identity = (b) => b;
const toBuffer = (s) => Buffer.from(s, 'utf8');

/** One client (and so one channel) per service name, made on first use. */
const clients = new Map();

function client(service) {
  let c = clients.get(service);
  if (!c) {
    c = new grpc.Client(`xds:///${service}`, grpc.credentials.createInsecure());
    clients.set(service, c);
  }
  return c;
}

function callOnce(service, method, headers, timeoutMs, waitForReady) {
  return new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    for (const [name, value] of headers) {
      metadata.add(name, value);
    }
    const options = { deadline: new Date(Date.now() + timeoutMs) };
    if (waitForReady) {
      metadata.setOptions({ waitForReady: true });
    }
    const start = process.hrtime.bigint();
    const ms = () => Number((process.hrtime.bigint() - start) / 1000000n);
    client(service).makeUnaryRequest(`/${ECHO_SERVICE}/${method}`, toBuffer, identity,
      toBuffer('hi'), metadata, options, (err, value) => {
        if (err) {
          resolve({ ok: false, code: err.code, status: grpc.status[err.code] ?? String(err.code),
            details: err.details ?? err.message, ms: ms() });
        } else {
          resolve({ ok: true, who: value.toString('utf8'), ms: ms() });
        }
      });
  });
}

async function call(args) {
  const [service, method, count, ...rest] = args;
  const n = Number.parseInt(count, 10);
  if (!service || !method || !Number.isInteger(n) || n < 1) {
    throw new Error('usage: <id> call <service> <method> <n> [--timeout=ms] [--parallel] [--wait-for-ready] [name=value ...]');
  }
  let timeoutMs = 5000;
  let parallel = false;
  let waitForReady = false;
  const headers = [];
  for (const arg of rest) {
    if (arg.startsWith('--timeout=')) {
      timeoutMs = Number.parseInt(arg.substring('--timeout='.length), 10);
    } else if (arg === '--parallel') {
      parallel = true;
    } else if (arg === '--wait-for-ready') {
      waitForReady = true;
    } else if (arg.includes('=')) {
      const i = arg.indexOf('=');
      headers.push([arg.substring(0, i), arg.substring(i + 1)]);
    } else {
      throw new Error(`unknown argument '${arg}'`);
    }
  }
  if (parallel) {
    const calls = [];
    for (let i = 0; i < n; i++) {
      calls.push(callOnce(service, method, headers, timeoutMs, waitForReady));
    }
    return { results: await Promise.all(calls) };
  }
  const results = [];
  for (let i = 0; i < n; i++) {
    results.push(await callOnce(service, method, headers, timeoutMs, waitForReady));
  }
  return { results };
}

function state(args) {
  const [service] = args;
  if (!service) {
    throw new Error('usage: <id> state <service>');
  }
  const s = client(service).getChannel().getConnectivityState(true);
  return { state: grpc.connectivityState[s] };
}

function close(args) {
  const [service] = args;
  const c = clients.get(service);
  if (c) {
    c.close();
    clients.delete(service);
  }
  return { closed: Boolean(c) };
}

function ping() {
  return {
    pong: true,
    grpcJs: require('@grpc/grpc-js/package.json').version,
    grpcJsXds: require('@grpc/grpc-js-xds/package.json').version,
  };
}

function answer(id, body) {
  process.stdout.write(JSON.stringify({ id, ...body }) + '\n');
}

async function handle(line) {
  const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) {
    return;
  }
  const [id, command, ...args] = words;
  try {
    switch (command) {
      case 'call': answer(id, await call(args)); break;
      case 'state': answer(id, state(args)); break;
      case 'close': answer(id, close(args)); break;
      case 'ping': answer(id, ping()); break;
      default: throw new Error(`unknown command '${command}'`);
    }
  } catch (e) {
    answer(id, { error: String(e && e.message ? e.message : e) });
  }
}

const input = readline.createInterface({ input: process.stdin, terminal: false });
input.on('line', (line) => { handle(line); });
input.on('close', () => {
  for (const c of clients.values()) {
    c.close();
  }
  process.exit(0);
});
