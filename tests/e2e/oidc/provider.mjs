// A real OpenID Connect provider (panva/oidc-provider) on loopback for Netra's e2e login test.
// Usage: node provider.mjs <port> <client_id> <client_secret> <redirect_uri>
// Any login name signs in (development interactions); the account's e-mail is the login name
// when it contains "@". A login starting with "unverified" has e-mail_verified false.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: node provider.mjs <port> <client_id> <client_secret> <redirect_uri>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Put the scope's claims in the ID token itself (the relying party reads them there).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: [`netra-test-oidc-${clientSecret}`] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const email = id.includes('@') ? id : `${id}@example.com`;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email,
          email_verified: !id.startsWith('unverified'),
          name: `Test ${id.split('@')[0]}`,
        };
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
