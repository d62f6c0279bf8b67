-- Tokens carry a label: the staff member or device they were made for, shown
-- wherever tokens are listed so that an administrator revokes the right one.
ALTER TABLE tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';
