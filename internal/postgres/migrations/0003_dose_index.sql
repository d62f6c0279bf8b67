-- Count a person's earlier doses from the index alone (dose numbers are
-- computed on every recorded dose).
DROP INDEX vaccinations_person;
CREATE INDEX vaccinations_person ON vaccinations (person_id, status, dose_date);
