DROP TABLE jobs.notifications;
