// A real OpenID provider (the certified `oidc-provider`) for the gateway's sign-in tests, on loopback.
//
//   node server.mjs [port]      (0 or nothing: any free port)
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (comma-separated) for its one client. It prints
// `ready <issuer>` on stdout once it listens, and stops on SIGTERM. Two accounts, with their own passwords:
// alice (groups librarrarian-admins, family) and bob (group family). The `groups` claim comes with the
// `groups` scope, and, as the specification has it for the code flow, from the userinfo endpoint only.
// Login and consent are two small forms of our own, so that nothing is fetched from outside.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const ACCOUNTS = {
  alice: {
    password: 'alice-password',
    claims: {
      preferred_username: 'alice', name: 'Alice', email: 'alice@example.test', email_verified: true,
      groups: ['librarrarian-admins', 'family'],
    },
  },
  bob: {
    password: 'bob-password',
    claims: {
      preferred_username: 'bob', name: 'Bob', email: 'bob@example.test', email_verified: true,
      groups: ['family'],
    },
  },
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

// The login and consent forms, answered before the provider's own routes.
function interactions(provider) {
  return async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|consent|abort))?$/);
    if (!match) {
      await next();
      return;
    }
    ctx.set('cache-control', 'no-store');
    const [, uid, action] = match;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    const { prompt, params, session } = details;

    if (ctx.method === 'GET' && !action) {
      ctx.type = 'html';
      if (prompt.name === 'login') {
        const problem = ctx.query.problem ? `<p role="alert">${escape(ctx.query.problem)}</p>` : '';
        ctx.body = page('Sign in to the test provider', `${problem}
          <form method="post" action="/interaction/${uid}/login">
            <label>Login <input name="login" autocomplete="username" required></label>
            <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
            <button type="submit">Sign in</button>
          </form>`);
      } else {
        const scopes = [...(prompt.details.missingOIDCScope ?? [])].join(' ');
        ctx.body = page('Allow access', `<p>${escape(params.client_id)} asks for: ${escape(scopes)}</p>
          <form method="post" action="/interaction/${uid}/consent"><button type="submit">Allow</button></form>
          <form method="post" action="/interaction/${uid}/abort"><button type="submit">Deny</button></form>`);
      }
      return;
    }
    if (ctx.method !== 'POST') ctx.throw(405);

    if (action === 'login') {
      const form = await formBody(ctx.req);
      const account = ACCOUNTS[form.get('login')];
      if (!account || account.password !== form.get('password')) {
        ctx.redirect(`/interaction/${uid}?problem=${encodeURIComponent('Wrong login or password.')}`);
        return;
      }
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: form.get('login') } },
        { mergeWithLastSubmission: false });
    } else if (action === 'consent') {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true });
    } else {
      await provider.interactionFinished(ctx.req, ctx.res,
        { error: 'access_denied', error_description: 'The user denied access.' },
        { mergeWithLastSubmission: false });
    }
  };
}

const server = createServer();
server.listen(Number(process.argv[2] ?? process.env.PORT ?? 0), '127.0.0.1', () => {
  // The issuer names the host `localhost`, another site than the gateway's 127.0.0.1 for the browser.
  const issuer = `http://localhost:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.CLIENT_ID ?? 'librarrarian',
      client_secret: process.env.CLIENT_SECRET ?? 'librarrarian-secret',
      redirect_uris: (process.env.REDIRECT_URIS ?? '').split(',').filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const account = ACCOUNTS[sub];
      return account && { accountId: sub, claims: async () => ({ sub, ...account.claims }) };
    },
  });
  provider.use(interactions(provider));
  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
