-- A dose's number in the person's history is no longer stored with each
-- dose (counted on every write, and wrong for a dose recorded after a later
-- one): the statistics number a person's completed doses by date when they
-- are read, and an erasure numbers them once before they become counts.
ALTER TABLE vaccinations DROP COLUMN dose_number;
