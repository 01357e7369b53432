'use strict';

module.exports.work = async (event) => ({
  batchItemFailures: event.Records.filter((r) => !r.body).map((r) => ({ itemIdentifier: r.messageId })),
});

module.exports.ingest = async (event) => ({
  keys: event.Records.map((r) => r.s3.object.key),
});

module.exports.sweep = async () => ({ queue: process.env.QUEUE_URL, sweptAt: new Date().toISOString() });
