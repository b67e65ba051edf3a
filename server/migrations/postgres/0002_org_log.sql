-- Parley relay schema, version 2 (PostgreSQL): the org log decides who and which device.
-- Admin rights and invites are entries of the log (`AdminAdded`, `InviteIssued`), which the
-- relay keeps verified in memory; the tables that used to decide them are gone.
DROP TABLE invites;
DROP TABLE admins;
