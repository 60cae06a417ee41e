-- The treating physician (`medico_tratante`) as the episode's data writes it, for the
-- episode list, its search and «Mis altas de hoy» (the day's discharges of the physician
-- logged in, matched by name). '' when the data names none; NULL until written: rows
-- imported before this migration, or restored from an older backup, are filled by the
-- server when it starts, with the other list columns (see src/listing.rs).
ALTER TABLE episodes ADD COLUMN physician TEXT
