-- A state machine deleted and created again under the same name has the same ARN, and its versions the
-- same numbers again. StartExecution reads the definition it will run before the transaction that stores
-- the execution; that transaction compares the machine's incarnation with the one the start read, so a
-- start never stores an execution of the new machine with the old one's definition. A new random value
-- each time a machine is created; UpdateStateMachine keeps it.
ALTER TABLE state_machines ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';
UPDATE state_machines SET incarnation = lower(hex(randomblob(16)));
