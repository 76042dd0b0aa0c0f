-- The CRM database of the analytics team (MySQL dialect).
CREATE DATABASE crm;
USE crm;

CREATE TABLE contacts (
  id BIGINT NOT NULL AUTO_INCREMENT,
  email VARCHAR(255) NOT NULL,
  name VARCHAR(100) NOT NULL,
  PRIMARY KEY (id)
);

CREATE TABLE deals (
  id BIGINT NOT NULL AUTO_INCREMENT,
  contact_id BIGINT NOT NULL,
  amount_cents BIGINT NOT NULL,
  stage VARCHAR(32) NOT NULL,
  PRIMARY KEY (id)
);
