-- The council's case list with each letter (docs/domain.md, "The council's case list"):
-- the workbook and the CSV as rendered with the letter, attached to the chief executive's
-- e-mail, and the sha256 of each (shown by `letters show`). Null on letters rendered before
-- the case list existed. The grants of 0002 cover the new columns (table-level).
ALTER TABLE letters.outbox
    ADD COLUMN IF NOT EXISTS case_list_xlsx        bytea,
    ADD COLUMN IF NOT EXISTS case_list_csv         bytea,
    ADD COLUMN IF NOT EXISTS case_list_xlsx_sha256 text,
    ADD COLUMN IF NOT EXISTS case_list_csv_sha256  text;
