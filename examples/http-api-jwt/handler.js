'use strict';

const claims = (event) => event.requestContext.authorizer.jwt.claims;

module.exports.health = async () => ({ statusCode: 200, body: 'ok' });

module.exports.me = async (event) => ({ statusCode: 200, body: JSON.stringify({ sub: claims(event).sub }) });

module.exports.updateProfile = async (event) => ({
  statusCode: 204,
  headers: { 'x-user': claims(event).sub },
});
