'use strict';

module.exports.ping = async () => ({ statusCode: 200, body: JSON.stringify({ pong: true }) });
