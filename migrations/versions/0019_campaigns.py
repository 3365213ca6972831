"""campaigns, the email log, bouncing addresses and scheduled work

Revision ID: 0019_campaigns
Revises: 0018_server_sessions
Create Date: 2026-12-08 01:12:56

Marketing > Campaigns: `campaigns` (the message, its sender and state), `campaign_audience` (the
segments and marketing lists it goes to or excludes), `campaign_contacts` (contacts chosen one by
one) and `campaign_recipients` (one row per contact as resolved when sending starts, with its
status). `sent_emails` keeps every other message sent to a contact (the card's Emails tab);
`bouncing_addresses` the addresses whose mail bounced; `automations` and `done_work` the
scheduled work's settings and what it has done (claimed keys, so nothing is done twice).
Users get `task_digest` (the morning email of their tasks), on for everyone.
"""

import sqlalchemy as sa
from alembic import op


revision = '0019_campaigns'
down_revision = '0018_server_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bouncing_addresses',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('first_bounced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_bounced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bounces', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_bouncing_addresses'))
    )
    op.create_table('done_work',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_done_work'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('kind', sa.Enum('campaign', 'one_off', name='campaign_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', name='campaign_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('sender_name', sa.String(length=100), nullable=False),
    sa.Column('sender_email', sa.String(length=254), nullable=False),
    sa.Column('reply_to', sa.String(length=254), nullable=True),
    sa.Column('send_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaigns_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_campaigns_sent_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_send_at'), ['send_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_updated_at'), ['updated_at'], unique=False)

    op.create_table('automations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('birthday_greeting', 'task_digest', 'appointment_reminder', name='automation_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('send_time', sa.Time(), nullable=True),
    sa.Column('lead_minutes', sa.Integer(), nullable=True),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_automations_segment_id_segments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_automations_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automations')),
    sa.UniqueConstraint('kind', name=op.f('uq_automations_kind'))
    )
    op.create_table('campaign_audience',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('marketing_list_id', sa.Integer(), nullable=True),
    sa.Column('excluded', sa.Boolean(), nullable=False),
    sa.CheckConstraint('(segment_id IS NULL) != (marketing_list_id IS NULL)', name=op.f('ck_campaign_audience_one_group')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_audience_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['marketing_list_id'], ['marketing_lists.id'], name=op.f('fk_campaign_audience_marketing_list_id_marketing_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_campaign_audience_segment_id_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_audience'))
    )
    with op.batch_alter_table('campaign_audience', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_audience_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('campaign_contacts',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_contacts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_campaign_contacts_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'contact_id', name=op.f('pk_campaign_contacts'))
    )
    with op.batch_alter_table('campaign_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_contacts_contact_id', ['contact_id'], unique=False)

    op.create_table('campaign_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('status', sa.Enum('queued', 'sending', 'sent', 'failed', 'excluded', name='recipient_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.Enum('no_email', 'no_consent', 'do_not_email', 'trashed', 'merged', 'bouncing', 'not_visible', 'duplicate_address', 'excluded_list', 'cancelled', name='exclusion_reason', native_enum=False, create_constraint=True, length=20), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bounced_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_recipients_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_campaign_recipients_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_recipients')),
    sa.UniqueConstraint('campaign_id', 'contact_id', name=op.f('uq_campaign_recipients_campaign_id'))
    )
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_recipients_campaign_id_status', ['campaign_id', 'status'], unique=False)
        batch_op.create_index('ix_campaign_recipients_contact_id', ['contact_id'], unique=False)
        batch_op.create_index('ix_campaign_recipients_email', ['email'], unique=False)

    op.create_table('sent_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('one_off', 'meeting', 'greeting', 'password_link', 'opt_in', name='email_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('sending', 'sent', 'failed', name='email_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_sent_emails_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_sent_emails_sent_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_emails')),
    sa.UniqueConstraint('key', name=op.f('uq_sent_emails_key'))
    )
    with op.batch_alter_table('sent_emails', schema=None) as batch_op:
        batch_op.create_index('ix_sent_emails_contact_id_created_at', ['contact_id', 'created_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_digest', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('task_digest')

    with op.batch_alter_table('sent_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_sent_emails_contact_id_created_at')

    op.drop_table('sent_emails')
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_recipients_email')
        batch_op.drop_index('ix_campaign_recipients_contact_id')
        batch_op.drop_index('ix_campaign_recipients_campaign_id_status')

    op.drop_table('campaign_recipients')
    with op.batch_alter_table('campaign_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_contacts_contact_id')

    op.drop_table('campaign_contacts')
    with op.batch_alter_table('campaign_audience', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_audience_campaign_id'))

    op.drop_table('campaign_audience')
    op.drop_table('automations')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_updated_at'))
        batch_op.drop_index(batch_op.f('ix_campaigns_status'))
        batch_op.drop_index(batch_op.f('ix_campaigns_send_at'))
        batch_op.drop_index(batch_op.f('ix_campaigns_created_at'))

    op.drop_table('campaigns')
    op.drop_table('done_work')
    op.drop_table('bouncing_addresses')
