'use strict';

module.exports.process = async (event) => ({
  jobs: event.Records.map((r) => r.Sns.MessageId),
  resultsTopic: process.env.RESULTS_TOPIC_ARN,
});
