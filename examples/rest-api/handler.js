'use strict';

const json = (statusCode, body) => ({ statusCode, body: JSON.stringify(body) });

module.exports.list = async () => json(200, { items: [], table: process.env.TABLE_NAME });

module.exports.create = async (event) => json(201, { created: JSON.parse(event.body || '{}') });

module.exports.get = async (event) => json(200, { id: event.pathParameters.id });

module.exports.onChange = async (event) => ({ changes: event.Records.length });
