DROP TABLE services.deployment_history;
