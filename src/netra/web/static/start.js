// Netra web UI, start-up: single sign-on offer, the OAuth login code, then the signed-in app.
"use strict";

(async () => {
  offerSingleSignOn();
  await exchangeLoginCode();
  if (state.access) await enterApp();
  else show("auth");
})();
