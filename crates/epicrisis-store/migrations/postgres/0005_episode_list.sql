-- The episode list shows the patient's name and the main diagnosis and searches them
-- (search_text: the id, service, patient and every diagnosis, folded to lower case
-- without accents, with the lexicon's names of those diagnoses). They are copies of what
-- the episode's JSON says, written on every import; rows imported before this migration
-- are filled by the server when it starts (it reads the JSON, which SQL cannot do the
-- same way on both databases). See src/listing.rs.
ALTER TABLE episodes ADD COLUMN patient_name TEXT;
ALTER TABLE episodes ADD COLUMN diagnosis TEXT;
ALTER TABLE episodes ADD COLUMN search_text TEXT
